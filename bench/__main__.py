"""`python -m bench` (`make bench`): every benchmark, one table."""

from bench.run import main

main()
