"""G-code front end: Cython lexer (``_lexer``), streaming reader, interpreter."""
