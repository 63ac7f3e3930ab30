"""The Tkinter desktop client."""
