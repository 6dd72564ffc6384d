"""logout_rules: automatic logout after idle time or a maximum session age, with rules per user,
per group and site-wide kept in the database."""

__version__ = "0.1.0"
