"""The web chat channel: an embeddable widget, a Socket.IO namespace for visitors, delivery."""
