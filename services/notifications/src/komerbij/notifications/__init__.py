"""Partners and participants told what concerns them, by e-mail or signed webhook."""
