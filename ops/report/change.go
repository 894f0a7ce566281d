package report

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// ChangeRule decides which rank moves since the previous report are
// significant rather than noise.
//
// An arm present on both nights whose rank changed has a Move. The move is
// significant when either
//
//  1. its rank intervals on the two nights do not overlap (the previous
//     [lo, hi] and tonight's [lo, hi] are disjoint), or
//  2. its order against some other arm present on both nights flipped with
//     confidence on both nights: one night P(arm beats other) >= Flip and
//     the other night <= 1 - Flip (a Flip in Changes.Flips).
//
// Every other move is noise: the observed rank moved but the posterior
// says the two nights are compatible. New arms (not in the previous report)
// and dropped arms are listed separately; they are never moves.
type ChangeRule struct {
	// Flip is the confidence threshold of rule 2; default 0.9 (must be in
	// (0.5, 1)).
	Flip float64 `json:"flip"`
}

func (c ChangeRule) withDefaults() ChangeRule {
	if !(c.Flip > 0.5 && c.Flip < 1) {
		c.Flip = 0.9
	}
	return c
}

// Changes are the differences from the previous report.
type Changes struct {
	PreviousID   string     `json:"previous_id"`
	PreviousTime time.Time  `json:"previous_time"`
	Rule         ChangeRule `json:"rule"`
	// WorldModelChanged: the checkpoint description differs, so part of
	// any change may be the world model's, not the policies'.
	WorldModelChanged bool     `json:"world_model_changed"`
	NewArms           []string `json:"new_arms"`
	DroppedArms       []string `json:"dropped_arms"`
	// Moves lists every arm whose rank changed, significant ones first.
	Moves []Move `json:"moves"`
	// Flips lists the pairs whose order flipped with confidence.
	Flips []Flip `json:"flips"`
}

// Move is an arm's rank change.
type Move struct {
	Arm      string `json:"arm"`
	FromRank int    `json:"from_rank"`
	ToRank   int    `json:"to_rank"`
	// FromCI and ToCI are the rank intervals [lo, hi] on each night.
	FromCI      [2]int `json:"from_ci"`
	ToCI        [2]int `json:"to_ci"`
	Significant bool   `json:"significant"`
	// Reason says why, in words.
	Reason string `json:"reason"`
}

// Up is true when the arm improved (its rank number fell).
func (m Move) Up() bool { return m.ToRank < m.FromRank }

// Flip is a pair whose order flipped with confidence: Winner now beats
// Loser with probability PNow >= Flip, while the previous night
// P(Winner beats Loser) was PBefore <= 1 - Flip.
type Flip struct {
	Winner  string  `json:"winner"`
	Loser   string  `json:"loser"`
	PBefore float64 `json:"p_before"`
	PNow    float64 `json:"p_now"`
}

// changes compares tonight's report (leaderboard and p_beats filled) with
// the previous one and marks the rows.
func changes(prev Report, r *Report, rule ChangeRule) *Changes {
	rule = rule.withDefaults()
	c := &Changes{PreviousID: prev.ID, PreviousTime: prev.Time, Rule: rule,
		WorldModelChanged: !maps.Equal(prev.WorldModel.Checkpoint, r.WorldModel.Checkpoint),
		NewArms:           []string{}, DroppedArms: []string{}, Moves: []Move{}, Flips: []Flip{}}
	before := map[string]int{}
	for i, row := range prev.Leaderboard {
		before[row.Arm] = i
	}
	now := map[string]int{}
	for i, row := range r.Leaderboard {
		now[row.Arm] = i
	}
	for _, row := range r.Leaderboard {
		if _, ok := before[row.Arm]; !ok {
			c.NewArms = append(c.NewArms, row.Arm)
		}
	}
	for _, row := range prev.Leaderboard {
		if _, ok := now[row.Arm]; !ok {
			c.DroppedArms = append(c.DroppedArms, row.Arm)
		}
	}
	pb := func(rep *Report, idx map[string]int, a, b string) (float64, bool) {
		i, ok1 := idx[a]
		j, ok2 := idx[b]
		if !ok1 || !ok2 || i >= len(rep.PBeats) || j >= len(rep.PBeats[i]) {
			return 0, false
		}
		return rep.PBeats[i][j], true
	}
	flipsOf := map[string][]Flip{}
	for _, a := range r.Leaderboard {
		for _, b := range r.Leaderboard {
			if a.Arm == b.Arm {
				continue
			}
			pNow, ok1 := pb(r, now, a.Arm, b.Arm)
			pBefore, ok2 := pb(&prev, before, a.Arm, b.Arm)
			if ok1 && ok2 && pNow >= rule.Flip && pBefore <= 1-rule.Flip {
				f := Flip{Winner: a.Arm, Loser: b.Arm, PBefore: pBefore, PNow: pNow}
				c.Flips = append(c.Flips, f)
				flipsOf[a.Arm] = append(flipsOf[a.Arm], f)
				flipsOf[b.Arm] = append(flipsOf[b.Arm], f)
			}
		}
	}
	for i := range r.Leaderboard {
		row := &r.Leaderboard[i]
		j, ok := before[row.Arm]
		if !ok {
			row.New = true
			continue
		}
		p := prev.Leaderboard[j]
		if p.Rank == row.Rank {
			continue
		}
		m := Move{Arm: row.Arm, FromRank: p.Rank, ToRank: row.Rank, FromCI: [2]int{p.RankLo, p.RankHi}, ToCI: [2]int{row.RankLo, row.RankHi}}
		switch fs := flipsOf[row.Arm]; {
		case p.RankHi < row.RankLo || row.RankHi < p.RankLo:
			m.Significant = true
			m.Reason = fmt.Sprintf("rank intervals [%d, %d] and [%d, %d] do not overlap", p.RankLo, p.RankHi, row.RankLo, row.RankHi)
		case len(fs) > 0:
			m.Significant = true
			f := fs[0]
			m.Reason = fmt.Sprintf("%s now beats %s with P %.2f (was %.2f)", f.Winner, f.Loser, f.PNow, f.PBefore)
		default:
			m.Reason = fmt.Sprintf("noise: rank intervals [%d, %d] and [%d, %d] overlap and no order flipped with P >= %.2f", p.RankLo, p.RankHi, row.RankLo, row.RankHi, rule.Flip)
		}
		mv := m
		row.Move = &mv
		c.Moves = append(c.Moves, m)
	}
	slices.SortStableFunc(c.Moves, func(a, b Move) int {
		if a.Significant != b.Significant {
			if a.Significant {
				return -1
			}
			return 1
		}
		return 0
	})
	return c
}
