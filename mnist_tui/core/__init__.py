"""The engine: data, models, training, evaluation and saved runs. Never imports Textual."""
