package problem

import (
	"sort"
	"strings"
)

// Fields maps a field path ("options.agentId", "[3].set.name") to what is wrong with it.
type Fields map[string]string

// Add records msg for path unless the path already has one (the first problem is the useful one).
func (fe Fields) Add(path, msg string) {
	if _, ok := fe[path]; !ok {
		fe[path] = msg
	}
}

// String lists the errors in path order, for logs and single-line messages.
func (fe Fields) String() string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + fe[k]
	}
	return strings.Join(parts, "; ")
}

// KindName says in JSON terms what a Go kind expects, for "must be …" messages.
func KindName(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "a list"
	default:
		return "an object"
	}
}

// AddAll adds every error of more under prefix: "options" and "agentId" give "options.agentId";
// an error of more's empty path becomes the prefix's own.
func (fe Fields) AddAll(prefix string, more Fields) {
	for k, v := range more {
		if k != "" && prefix != "" {
			k = prefix + "." + k
		} else if k == "" {
			k = prefix
		}
		fe.Add(k, v)
	}
}
