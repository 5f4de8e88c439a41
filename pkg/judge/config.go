package judge

import "fmt"

// Config says how strict one analysis is. Zero fields take the defaults.
type Config struct {
	// Alpha is the false-positive budget of one analysis on an A/A release
	// (a canary exactly as good as the stable version). Default 0.01.
	Alpha float64 `json:"alpha"`
	// Detect is the smallest canary/stable ratio of bad-event rates the
	// analysis must detect with probability Power. Default 2.
	Detect float64 `json:"detect"`
	// Power is the probability of detecting Detect that the horizon must
	// have reached for a Successful verdict. Default 0.95.
	Power float64 `json:"power"`
	// Looks is the number of looks up to the horizon (duration/interval,
	// less the warm-up). Required.
	Looks int `json:"looks"`
}

// Defaults of Config.
const (
	DefaultAlpha  = 0.01
	DefaultDetect = 2
	DefaultPower  = 0.95
)

// Limits of Config, checked by Validate. MaxLooks bounds the work of one
// judgement (a day of 10-second looks is 8,640).
const (
	MaxAlpha  = 0.5
	MaxDetect = 1000
	MaxLooks  = 100000
)

// The split of Alpha between the sequential test and the final one.
const sequentialShare = 0.2

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.Detect == 0 {
		c.Detect = DefaultDetect
	}
	if c.Power == 0 {
		c.Power = DefaultPower
	}
	return c
}

// Validate checks a configuration after WithDefaults; the error names the
// field and the allowed range. NaN fails every range.
func (c Config) Validate() error {
	switch {
	case !(c.Alpha > 0 && c.Alpha <= MaxAlpha):
		return fmt.Errorf("alpha %v: must be more than 0 and at most %v", c.Alpha, MaxAlpha)
	case !(c.Detect > 1 && c.Detect <= MaxDetect):
		return fmt.Errorf("detect %v: must be more than 1 and at most %v", c.Detect, MaxDetect)
	case !(c.Power > 0 && c.Power < 1):
		return fmt.Errorf("power %v: must be more than 0 and less than 1", c.Power)
	case c.Looks < 1 || c.Looks > MaxLooks:
		return fmt.Errorf("looks %d: must be between 1 and %d", c.Looks, MaxLooks)
	}
	return nil
}

// alphaSequential is the sequential test's share of Alpha.
func (c Config) alphaSequential() float64 { return sequentialShare * c.Alpha }

// alphaFinal is the final test's share of Alpha.
func (c Config) alphaFinal() float64 { return (1 - sequentialShare) * c.Alpha }
