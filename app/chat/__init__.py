"""The chat completions front end's rendering: answer events as OpenAI chat completion chunks."""
