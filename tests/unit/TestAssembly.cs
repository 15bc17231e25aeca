// The server keeps a few per-worker settings in statics set once at start-up
// (RequestLimits.Current, HeaderMap.Mode, RequestPolicy's switches); tests that set them
// must not overlap with tests that read them. The whole tier runs in a few seconds serially.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
