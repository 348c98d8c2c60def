from titanium.cli import app

app(prog_name="titanium")
