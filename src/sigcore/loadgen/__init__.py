"""The load generator behind `sigcore bench` and bench/*.py: pre-encoded S6a/Cx requests over Diameter/TCP
connections, a window of requests in flight per connection, optionally paced, with latency percentiles."""
