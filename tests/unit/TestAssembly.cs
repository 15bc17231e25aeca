// No test sets shared state (the request rules are a value, RequestRules, not statics). The
// tier still runs serially: it finishes in seconds, and the machines it runs on are shared
// with the end-to-end suites, which time real sockets.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
