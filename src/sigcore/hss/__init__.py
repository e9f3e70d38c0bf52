"""Home Subscriber Server: authentication centre, subscriber data and the Diameter interfaces it serves."""
