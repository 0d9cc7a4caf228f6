package initramfs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ShareTag is the 9p tag of the directory the host shares with the guest,
// and ShareDir where the guest mounts it.
const (
	ShareTag = "netl"
	ShareDir = "/netl"
)

// RunSpec tells the guest init what to do. The host writes it to the shared
// directory as run.json, so one initramfs serves every run: what changes
// from run to run (the module, the program, its arguments) travels through
// the share, not through a rebuilt image.
type RunSpec struct {
	// Module is the .ko to load before the program runs (relative to the
	// share); empty loads nothing.
	Module string `json:"module,omitempty"`
	// ModParams are the module's parameters, "k=v k=v".
	ModParams string `json:"modparams,omitempty"`
	// Program and Args: what to run. A relative Program is in the share.
	Program string   `json:"program"`
	Args    []string `json:"args,omitempty"`
	// Env is added to the program's environment.
	Env []string `json:"env,omitempty"`
	// Stdout, when set, is a file in the share that receives the
	// program's standard output instead of the console.
	Stdout string `json:"stdout,omitempty"`
}

// Status is what the guest reports back through the share as status.json.
type Status struct {
	// Stage is where the run stopped: "module", "program" or "done".
	Stage string `json:"stage"`
	// ExitCode is the program's exit status; 128+N when a signal N ended it.
	ExitCode int `json:"exit_code"`
	// Error says what went wrong before or around the program.
	Error string `json:"error,omitempty"`
	// BootSeconds is the guest's uptime when init started the run,
	// ClockSeconds how long init waited for high-resolution timers (see
	// netlinit's waitForHighRes), and ProgramSeconds how long the program ran.
	BootSeconds    float64 `json:"boot_seconds"`
	ClockSeconds   float64 `json:"clock_seconds"`
	ProgramSeconds float64 `json:"program_seconds"`
}

// WriteSpec writes spec into the share directory.
func WriteSpec(share string, spec RunSpec) error {
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(share, "run.json"), data, 0o644)
}

// ReadStatus reads the guest's status.json from the share directory.
func ReadStatus(share string) (*Status, error) {
	data, err := os.ReadFile(filepath.Join(share, "status.json"))
	if err != nil {
		return nil, fmt.Errorf("the guest wrote no status (did it boot to init?): %w", err)
	}
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("reading guest status: %w", err)
	}
	return &s, nil
}
