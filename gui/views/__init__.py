"""One ttk.Frame (or dialog) per screen. Views know nothing of HTTP: they announce intent with virtual
events (`<<SubmitOrder>>`, `<<Login>>`, …) that the controller (`gui.app.Application`) binds, and offer
`get`/`show` methods for it to read what was typed and show what came back."""
