"""polyplan: design the persistence layer of an application across several kinds of datastore."""

__version__ = "0.1.0"
