"""What both sides of the trust boundary share: requests, results, step files."""
