"""The bed view: its layout, figures and callbacks."""
