# Shortcuts for people who like make; the README's commands need only Python.
.PHONY: serve test

serve:
	python3 dev.py serve

test:
	python3 dev.py test
