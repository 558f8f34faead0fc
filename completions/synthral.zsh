#compdef synthral

_synthral_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _SYNTHRAL_COMPLETE=complete_zsh synthral)
}

compdef _synthral_completion synthral
