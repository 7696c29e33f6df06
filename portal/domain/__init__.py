"""What the portal knows how to do, testable without a request.

Modules here take and return plain values or model rows; they never import a
blueprint, the request or a page template.
"""
