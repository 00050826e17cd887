"""Reports for managers and departments: figures, response times, lists and exports."""
