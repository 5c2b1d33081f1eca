"""The backends that give the rule language its meaning: explanations with reasons (logic) and durable-rules decisions."""
