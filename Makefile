# The two commands of the README's Quick start. Both set up whatever is missing first.
.PHONY: run test

run:
	@scripts/dev.sh run

test:
	@scripts/dev.sh test
