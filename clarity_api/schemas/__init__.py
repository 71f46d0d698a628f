"""marshmallow schemas: request parsing and response shapes, one module per API area."""
