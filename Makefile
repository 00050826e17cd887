# The two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app

.PHONY: run test lint format machine clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# Debian's chromium and a Chinese font for the browser tests (installed when missing and root).
machine:
	@bash tests/machine.sh

# The translation catalogues are compiled by the application itself when it starts (hotline/catalogues.py).
run: $(VENV)/.runtime
	$(FLASK) hotline init-db
	$(FLASK) hotline demo
	@echo ""
	@echo "Open http://127.0.0.1:5000 and log in with one of the logins above."
	@echo "The web server and the scheduler (escalation sweep, SMS outbox, intake spool replay) run together; Ctrl-C stops both."
	@echo ""
	@echo "No Twilio account needed to see calls and texts arrive: in another terminal, play Twilio with signed webhooks:"
	@echo "  $(FLASK) hotline simulate sms --from +8613800000000 --body '我父亲突发脑溢血住院，请帮帮我们'"
	@echo "  $(FLASK) hotline simulate call --from +8613900000000 --digit 1             (nobody answers: voicemail, missed-call ticket)"
	@echo "  $(FLASK) hotline simulate call --from +8613900000000 --digit 2 --answer    (operator1, first on the duty roster, answers)"
	@echo "They appear on the operator's desk without a reload. The duty roster is at Admin > Duty roster."
	@$(FLASK) hotline scheduler & sched=$$!; \
	  trap 'kill $$sched 2>/dev/null; wait $$sched' INT TERM EXIT; \
	  $(FLASK) run --host 127.0.0.1 --port 5000

test: $(VENV)/.dev machine
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance/hotline.sqlite3*
