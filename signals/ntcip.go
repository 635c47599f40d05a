package signals

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/intersect-oss/intersect/events"
)

// NTCIP 1202 v02 object names and OID prefixes (the index, e.g. the phase
// number, is appended). Sources: NTCIP 1202 v02.19 §2.2.2 phase table
// (phaseEntry 1.3.6.1.4.1.1206.4.2.1.1.2.1: .2 phaseWalk, .3
// phasePedestrianClear, .4 phaseMinimumGreen, .8 phaseYellowChange, .9
// phaseRedClear), §2.5.7 pattern table (patternEntry
// 1.3.6.1.4.1.1206.4.2.1.4.7.1: .2 patternCycleTime), §2.5.9 split table
// (splitEntry 1.3.6.1.4.1.1206.4.2.1.4.9.1: .3 splitTime, indexed by split
// number then phase), §2.4.14 special function outputs
// (1.3.6.1.4.1.1206.4.2.1.3.14.1.3 specialFunctionOutputControl), §2.6.3
// time base action table (timebaseAscActionEntry
// 1.3.6.1.4.1.1206.4.2.1.5.3.1: .2 timebaseAscPattern, indexed by action:
// the pattern the controller runs when the NTCIP 1201 day plan calls that
// action).
const (
	ObjWalk            = "phaseWalk"
	ObjPedClear        = "phasePedestrianClear"
	ObjMinGreen        = "phaseMinimumGreen"
	ObjYellow          = "phaseYellowChange"
	ObjRedClear        = "phaseRedClear"
	ObjCycle           = "patternCycleTime"
	ObjSplit           = "splitTime"
	ObjSpecialOutput   = "specialFunctionOutputControl"
	ObjTimebasePattern = "timebaseAscPattern"

	oidPhaseEntry    = "1.3.6.1.4.1.1206.4.2.1.1.2.1"
	oidPatternEntry  = "1.3.6.1.4.1.1206.4.2.1.4.7.1"
	oidSplitEntry    = "1.3.6.1.4.1.1206.4.2.1.4.9.1"
	oidSpecialEntry  = "1.3.6.1.4.1.1206.4.2.1.3.14.1"
	oidTimebaseEntry = "1.3.6.1.4.1.1206.4.2.1.5.3.1"
)

// Units of Change values: NTCIP native units so a controller sets exactly
// the number it is given.
const (
	UnitSeconds = "s"
	UnitTenths  = "0.1s"    // phaseYellowChange and phaseRedClear
	UnitBool    = "bool"    // 1 on, 0 off
	UnitPattern = "pattern" // a pattern number
)

// PhaseOID returns the OID of a phase-table column for phase n.
func PhaseOID(object string, n int) string {
	col := map[string]int{ObjWalk: 2, ObjPedClear: 3, ObjMinGreen: 4, ObjYellow: 8, ObjRedClear: 9}[object]
	return fmt.Sprintf("%s.%d.%d", oidPhaseEntry, col, n)
}

// CycleOID is patternCycleTime.<pattern>.
func CycleOID(pattern int) string { return fmt.Sprintf("%s.2.%d", oidPatternEntry, pattern) }

// SplitOID is splitTime.<split>.<phase>.
func SplitOID(split, phase int) string { return fmt.Sprintf("%s.3.%d.%d", oidSplitEntry, split, phase) }

// TimebasePatternOID is timebaseAscPattern.<action>.
func TimebasePatternOID(action int) string { return fmt.Sprintf("%s.2.%d", oidTimebaseEntry, action) }

// SpecialOutputOID is specialFunctionOutputControl.<n>.
func SpecialOutputOID(n int) string { return fmt.Sprintf("%s.3.%d", oidSpecialEntry, n) }

// secondsChange is a change of a whole-second object.
func secondsChange(object, oid string, cur, prop float64) events.Change {
	return events.Change{Object: object, OID: oid, Unit: UnitSeconds, Current: cur, Proposed: prop}
}

// tenthsChange is a change of a tenth-second object, given in seconds.
func tenthsChange(object, oid string, curS, propS float64) events.Change {
	return events.Change{Object: object, OID: oid, Unit: UnitTenths, Current: roundTenths(curS), Proposed: roundTenths(propS)}
}

func roundTenths(s float64) float64 { return float64(int64(s*10 + 0.5)) }

// ChangeSeconds is a change's proposed value in seconds (or as is for bool).
func ChangeSeconds(ch events.Change, v float64) float64 {
	if ch.Unit == UnitTenths {
		return v / 10
	}
	return v
}

// lastIndex returns the last OID arc, e.g. the phase number of a phase OID.
func lastIndex(oid string) (int, bool) {
	i := strings.LastIndexByte(oid, '.')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(oid[i+1:])
	return n, err == nil
}

// reversed returns the changes that undo cs.
func reversed(cs []events.Change) []events.Change {
	out := make([]events.Change, len(cs))
	for i, c := range cs {
		out[i] = c
		out[i].Current, out[i].Proposed = c.Proposed, c.Current
	}
	return out
}
