"""``python -m synthral_cli`` behaves exactly like the ``synthral`` command."""

from synthral_cli.cli.main import main

if __name__ == "__main__":
    main()
