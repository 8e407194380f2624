"""The one sandboxed Jinja environment: render API, sandbox, filters, shell quoting."""
