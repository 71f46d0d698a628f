"""The rules: plain functions over models, raising ClarityError; callers commit."""
