"""`make bench`: the real stack under load, each number beside a ceiling from the same run."""
