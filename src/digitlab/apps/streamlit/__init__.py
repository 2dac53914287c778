"""The Streamlit drawing app (``app``, run by Streamlit as a script) and its launcher."""
