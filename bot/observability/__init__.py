"""What an operator watches: Prometheus metrics and the health endpoint that serves them."""
