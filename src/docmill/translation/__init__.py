"""Translation engines (`llm`, `mt`) behind one interface, and the batch service."""
