"""One digit at a time: drawings, a user's own images, text art."""
