"""Scale benchmark: render, dashboards, rules and rule evaluation at 4, 50 and 500 services."""
