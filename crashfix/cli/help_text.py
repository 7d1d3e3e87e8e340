"""What `--help` adds below the options of some commands: the environment they read, their exit codes."""

UPLOADER_ENVIRONMENT = """Environment:

\b
  GITHUB_TOKEN          the token to file with; if unset, the one `crashfix login` stored
  GITHUB_API_URL        a GitHub Enterprise server's API (default https://api.github.com)
  CRASHFIX_STATE_DIR    the spool and logs, when neither --state-dir nor [uploader] state_dir is set
  _NT_SYMBOL_PATH       CDB's symbol path, when [uploader.cdb] symbol_path is not set
  CRASHFIX_WEBHOOK_URL  a Discord or Slack webhook for new crash signatures and regressions
  HTTPS_PROXY           a proxy for GitHub and the webhook

Exit codes: 0 done, 1 not everything filed (it stays in the spool), 2 usage or config error,
66 a crash folder is missing, 74 the state folder cannot be written, 77 no usable token or
repository."""


FIX_ENVIRONMENT = """Environment:

\b
  GITHUB_TOKEN          may write contents, issues and pull requests (in Actions: the job's token)
  ANTHROPIC_API_KEY     the Claude API key (the model is called even with --dry-run)
  GITHUB_REPOSITORY     OWNER/NAME when --repo is not given (Actions sets it)
  GITHUB_API_URL        a GitHub Enterprise server's API (default https://api.github.com)
  CRASHFIX_WEBHOOK_URL  a Discord or Slack webhook for opened PRs and failed fixes
  CRASHFIX_CACHE_DIR    the symbol index cache (default ~/.cache/crashfix)
  HTTPS_PROXY           a proxy for GitHub, Anthropic and git (not ~/.gitconfig)

Exit codes: 0 fixed (a verified fix; with --local committed on its own branch), 1 not fixed
(no verified fix; the reason and the first diagnostics are printed), 2 usage, config or
checkout error (e.g. an uncommitted file), 3 the crash file cannot be read, 66 a file is
missing, 70 internal error, 77 no usable GitHub token, 130 interrupted. A run for a GitHub
issue reports its outcome on the issue (and in the step output `status`) and exits 0 unless
crashfix itself failed."""
