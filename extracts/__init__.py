"""Readers that turn a council's case extracts (files or a SQL database) into frames of text
with the contract's column names, ready for parsing and validation."""
