"""Inside a trained model: what it learned, where it looks, how its digits sit and moved."""
