package service

// mergePatch applies a JSON merge patch (RFC 7396) to dst in place: null deletes, objects merge,
// anything else replaces. It is how PATCH updates nested options without resending secrets.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		if v == nil {
			delete(dst, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergePatch(dm, pm)
				continue
			}
			fresh := map[string]any{}
			mergePatch(fresh, pm)
			dst[k] = fresh
			continue
		}
		dst[k] = v
	}
}
