package main

import (
	"context"
	"fmt"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/signals/weather"
)

func weatherCommand() command {
	return command{
		name:    "weather",
		summary: "weather observations for the advisor: set manually or read a recorded NWS observation",
		run:     runWeather,
	}
}

func runWeather(ctx context.Context, e env) error {
	if len(e.args) == 0 || (e.args[0] != "set" && e.args[0] != "nws") {
		fmt.Fprintln(e.stderr, "Usage: intersect weather set --site S --condition dry|wet|snow|ice|fog\n       intersect weather nws --site S --file OBSERVATION.json")
		return badInput("want a subcommand: set or nws")
	}
	sub := e.args[0]
	fs := newFlags(e, "weather "+sub, "weather "+sub+" --site S (--condition C | --file F)",
		`Print one weather observation event (JSON, the wire format) on stdout, for
the what-if advisor's --events file. "set" records a manual condition; "nws"
parses a recorded US National Weather Service /stations/{id}/observations/latest
response and classifies it (dry, wet, snow, ice, fog).`)
	site := fs.String("site", "", "site ID")
	cond := fs.String("condition", "", "dry, wet, snow, ice or fog (set)")
	file := fs.String("file", "", "NWS observation JSON (nws)")
	if err := parse(fs, e.args[1:]); err != nil {
		return err
	}
	if !events.ValidID(*site) {
		return badInput("--site %q must match [a-z0-9-]+", *site)
	}
	var p weather.Provider
	switch sub {
	case "set":
		c := events.Condition(*cond)
		if !c.Valid() {
			return badInput("--condition %q: want one of %v", *cond, events.Conditions)
		}
		p = weather.Manual{Site: *site, Condition: c}
	case "nws":
		if *file == "" {
			return badInput("--file is required")
		}
		p = weather.NWSFile{Site: *site, Path: *file}
	}
	o, err := p.Observe(ctx)
	if err != nil {
		return usageError{err}
	}
	b, err := events.Encode(o)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}
