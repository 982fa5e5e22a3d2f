"""The SQL both backends run: portable qmark text (PostgreSQL's connection
wrapper turns ``?`` into ``%s``), one module per concern, and the migrations.
Imports the ports' records, never a backend."""
