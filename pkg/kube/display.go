package kube

import (
	"slices"
	"strings"
)

// DisplayName is the kind's name for people in locale ("zh-CN"): the
// localized name for that locale, else for its language, else the Kind.
func (k Kind) DisplayName(locale string) string {
	if locale == "" || len(k.LocalizedNames) == 0 {
		return k.Kind
	}
	if n := k.LocalizedNames[locale]; n != "" {
		return n
	}
	lang, _, _ := strings.Cut(locale, "-")
	keys := make([]string, 0, len(k.LocalizedNames))
	for l := range k.LocalizedNames {
		keys = append(keys, l)
	}
	slices.Sort(keys)
	for _, l := range keys {
		if kl, _, _ := strings.Cut(l, "-"); strings.EqualFold(kl, lang) {
			return k.LocalizedNames[l]
		}
	}
	return k.Kind
}

// Locale returns the user's message locale from the POSIX variables, in
// the form localized names use: LC_ALL, then LC_MESSAGES, then LANG;
// "zh_CN.UTF-8" becomes "zh-CN"; "C" and "POSIX" mean none.
func Locale(getenv func(string) string) string {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		v, _, _ = strings.Cut(v, ".")
		v, _, _ = strings.Cut(v, "@")
		if v == "C" || v == "POSIX" {
			return ""
		}
		return strings.ReplaceAll(v, "_", "-")
	}
	return ""
}
