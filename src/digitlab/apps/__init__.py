"""Front ends: the ``digitlab`` command line, the Streamlit drawing app and the REST server. They parse,
print and serve; the work is done by the packages below them."""
