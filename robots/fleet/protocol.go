package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"dreamrank/foundation/errcode"
	"dreamrank/policy/openpi"
	"dreamrank/policy/zoo"
)

// ProtocolVersion is the version of the robot agent protocol
// (robots/PROTOCOL.md) this package speaks.
const ProtocolVersion = 1

// Subjects. Every robot subject is RobotSubject(id, verb); the coordinator's
// own subjects are fixed.
const (
	// Prefix is the root of every fleet subject.
	Prefix = "dreamrank.fleet"
	// StatusSubject answers fleet status requests (coordinator side only;
	// robots may not use it).
	StatusSubject = Prefix + ".status"
	// RequestPrefix is where episode requests are queued (JetStream).
	RequestPrefix = Prefix + ".requests"
	// UploadPrefix is where the coordinator keeps received log chunks
	// (JetStream); robots never publish there.
	UploadPrefix = Prefix + ".uploads"
)

// Verbs of robot subjects: the first five go from the robot to the
// coordinator, the last two from the coordinator to the robot.
const (
	VerbRegister  = "register"
	VerbHeartbeat = "heartbeat"
	VerbProgress  = "progress"
	VerbOutcome   = "outcome"
	VerbUpload    = "upload"
	VerbAssign    = "assign"
	VerbCancel    = "cancel"
)

// RobotVerbs are the subjects a robot publishes on; CoordinatorVerbs those
// it subscribes to.
var (
	RobotVerbs       = []string{VerbRegister, VerbHeartbeat, VerbProgress, VerbOutcome, VerbUpload}
	CoordinatorVerbs = []string{VerbAssign, VerbCancel}
)

// RobotSubject is dreamrank.fleet.robot.<id>.<verb>.
func RobotSubject(id, verb string) string { return Prefix + ".robot." + id + "." + verb }

// robotWildcard matches verb for every robot.
func robotWildcard(verb string) string { return Prefix + ".robot.*." + verb }

// RobotOfSubject returns the robot id of a robot subject.
func RobotOfSubject(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, Prefix+".robot.")
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ".")
	return id, ok && ValidRobotID(id) == nil
}

// InboxPrefix is the prefix of robot id's reply inboxes: a robot connects
// with it (bus.Config.InboxPrefix) because it may subscribe only to its own.
func InboxPrefix(id string) string { return "_INBOX.fleet." + id }

// RequestSubject is where episode request id waits.
func RequestSubject(id string) string { return RequestPrefix + "." + id }

// UploadSubject is where chunk i of assignment a's log is kept.
func UploadSubject(a string, i int) string { return fmt.Sprintf("%s.%s.%d", UploadPrefix, a, i) }

// Limits of the protocol.
const (
	// MaxChunk is the largest chunk of a log upload (raw bytes, before
	// base64); base64 in JSON keeps a chunk message under NATS's default
	// 1 MB payload.
	MaxChunk = 512 << 10
	// DefaultChunk is the chunk size robots use unless told otherwise.
	DefaultChunk = 256 << 10
	// MaxLog is the largest episode log.
	MaxLog = 256 << 20
	// MaxMessage bounds every message from a robot except upload chunks.
	MaxMessage = 64 << 10
)

// Sentinel errors; they travel with the errcode codes in init.
var (
	// ErrBadMessage: a message does not parse or breaks the protocol.
	ErrBadMessage = errors.New("fleet: bad message")
	// ErrNotYours: the assignment is not (or no longer) the sender's.
	ErrNotYours = errors.New("fleet: assignment not held by this robot")
	// ErrBusy: the robot is already running an assignment.
	ErrBusy = errors.New("fleet: robot busy")
	// ErrIncomplete: the log upload misses chunks or fails its checksum.
	ErrIncomplete = errors.New("fleet: log upload incomplete")
)

func init() {
	errcode.Register(ErrBadMessage, errcode.BadRequest)
	errcode.Register(ErrNotYours, errcode.Conflict)
	errcode.Register(ErrBusy, errcode.QuotaExceeded)
	errcode.Register(ErrIncomplete, errcode.Unavailable)
	errcode.Register(ErrCredentials, errcode.Unauthorized)
}

var (
	robotIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	tokenRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	hexSumRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidRobotID accepts lowercase letters, digits, '-' and '_' (at most 63,
// starting with a letter or digit): ids are subject tokens and file names.
func ValidRobotID(id string) error {
	if !robotIDRE.MatchString(id) {
		return fmt.Errorf("%w: robot id %q, want [a-z0-9][a-z0-9_-]{0,62}", ErrBadMessage, id)
	}
	return nil
}

func validUUID(what, id string) error {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return fmt.Errorf("%w: %s %q is not a canonical UUID", ErrBadMessage, what, id)
	}
	return nil
}

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadMessage}, args...)...)
}

// Camera is one camera a robot streams.
type Camera struct {
	Name     string `json:"name"`
	Height   int    `json:"height"`
	Width    int    `json:"width"`
	Channels int    `json:"channels"`
}

// ActionSpace describes the robot's actions.
type ActionSpace struct {
	// Kind names the action's meaning, e.g. "absolute_xy" (PushT: the
	// pusher's target position in table pixels).
	Kind string    `json:"kind"`
	Dim  int       `json:"dim"`
	Low  []float64 `json:"low,omitempty"`
	High []float64 `json:"high,omitempty"`
}

// Register announces a robot (robot -> coordinator, request).
type Register struct {
	Version    int         `json:"version"`
	Robot      string      `json:"robot"`
	Embodiment string      `json:"embodiment"`
	Cameras    []Camera    `json:"cameras"`
	Actions    ActionSpace `json:"action_space"`
	// Scenes are the scenarios the robot can set up (scenario names).
	Scenes []string `json:"scenes"`
	// PolicyBackends are the policy backends it can open locally; "openpi"
	// means it can act from an openpi endpoint.
	PolicyBackends []string `json:"policy_backends"`
	Software       string   `json:"software,omitempty"`
}

// RegisterReply answers Register.
type RegisterReply struct {
	Error *errcode.Error `json:"error,omitempty"`
	// HeartbeatMS is how often the robot must send heartbeats.
	HeartbeatMS int64 `json:"heartbeat_ms,omitempty"`
}

// Robot states.
const (
	StateIdle    = "idle"
	StateBusy    = "busy"
	StateOffline = "offline"
)

// Heartbeat says a robot is alive (robot -> coordinator, request).
type Heartbeat struct {
	Robot string `json:"robot"`
	State string `json:"state"` // idle or busy
	// Assignment is the assignment the robot is running, if busy.
	Assignment string    `json:"assignment,omitempty"`
	Time       time.Time `json:"time"`
}

// HeartbeatReply answers Heartbeat.
type HeartbeatReply struct {
	Error *errcode.Error `json:"error,omitempty"`
	// Registered false asks the robot to register again (the coordinator
	// restarted or declared it offline).
	Registered bool `json:"registered"`
	// AssignmentOK false tells a busy robot to abandon its assignment.
	AssignmentOK bool `json:"assignment_ok"`
}

// PolicySpec says which policy to run: a zoo arm (opened locally through
// its backend and options, steered by its context) or an openpi endpoint,
// with the options of backend openpi besides its url (the observation
// layout, e.g. {"layout": "droid"}; policy/openpi/PROTOCOL.md). Absent
// options mean the flat layout, as before they existed.
type PolicySpec struct {
	Arm           *zoo.Arm          `json:"arm,omitempty"`
	OpenPI        string            `json:"openpi,omitempty"`
	OpenPIOptions map[string]string `json:"openpi_options,omitempty"`
}

// Options are the options backend openpi opens the endpoint with.
func (p PolicySpec) Options() map[string]string { return openpi.WithURL(p.OpenPI, p.OpenPIOptions) }

// Backend is the policy backend the robot needs.
func (p PolicySpec) Backend() string {
	if p.Arm != nil {
		return p.Arm.Backend
	}
	return "openpi"
}

// Name names the policy in logs and episode metadata.
func (p PolicySpec) Name() string {
	if p.Arm != nil {
		return p.Arm.Name
	}
	name := "openpi:" + p.OpenPI
	for _, k := range slices.Sorted(maps.Keys(p.OpenPIOptions)) {
		if k != "api_key" { // a secret: not in names, logs or episode metadata
			name += " " + k + "=" + p.OpenPIOptions[k]
		}
	}
	return name
}

func (p PolicySpec) validate() error {
	switch {
	case (p.Arm == nil) == (p.OpenPI == ""):
		return badf("policy needs exactly one of arm and openpi")
	case p.Arm != nil && (p.Arm.Name == "" || p.Arm.Backend == ""):
		return badf("policy arm needs a name and a backend")
	case p.OpenPIOptions != nil && p.OpenPI == "":
		return badf("openpi_options without openpi")
	}
	if _, ok := p.OpenPIOptions["url"]; ok {
		return badf("openpi_options sets url; the endpoint goes in openpi")
	}
	if p.OpenPI != "" {
		if _, _, err := openpi.ParseClientOptions(p.Options()); err != nil {
			return badf("openpi_options: %v", err)
		}
	}
	return nil
}

// Assignment asks a robot to run one episode (coordinator -> robot,
// request).
type Assignment struct {
	// ID is a UUID; the uploaded log and the stored episode are keyed by
	// it.
	ID       string     `json:"id"`
	Request  string     `json:"request"`
	Policy   PolicySpec `json:"policy"`
	Scenario string     `json:"scenario"`
	Seed     int64      `json:"seed"`
	// MaxSteps caps the episode (0: the scenario's horizon).
	MaxSteps int `json:"max_steps,omitempty"`
	// Deadline is when the coordinator gives up on the assignment (the
	// outcome must be in by then).
	Deadline time.Time `json:"deadline"`
	// ChunkSize is the upload chunk size to use (0: DefaultChunk).
	ChunkSize int `json:"chunk_size,omitempty"`
}

// AssignReply answers Assignment.
type AssignReply struct {
	Error    *errcode.Error `json:"error,omitempty"`
	Accepted bool           `json:"accepted"`
}

// Cancel withdraws an assignment (coordinator -> robot, publish).
type Cancel struct {
	Assignment string `json:"assignment"`
	Reason     string `json:"reason,omitempty"`
}

// Progress reports how far an episode is (robot -> coordinator, publish).
type Progress struct {
	Robot      string    `json:"robot"`
	Assignment string    `json:"assignment"`
	Step       int       `json:"step"`
	MaxSteps   int       `json:"max_steps"`
	Time       time.Time `json:"time"`
}

// LogRef describes an uploaded log: the steps.zst file of the episode
// (foundation/episode/FORMAT.md), Size bytes in Chunks chunks, with SHA-256 SHA256.
type LogRef struct {
	Size   int64  `json:"size"`
	Chunks int    `json:"chunks"`
	SHA256 string `json:"sha256"`
}

// EpisodeResult is what an episode did, as judged on the robot.
type EpisodeResult struct {
	Success   bool    `json:"success"`
	MaxReward float64 `json:"max_reward"`
	Coverage  float64 `json:"final_coverage"`
	Steps     int     `json:"steps"`
	// StepsToSuccess is the step of first success, -1 if never.
	StepsToSuccess int `json:"steps_to_success"`
	// Violated and MinClearance are set for scenarios with a keep-out
	// zone: whether the robot entered it, and its smallest clearance (px).
	Violated     *bool    `json:"violated,omitempty"`
	MinClearance *float64 `json:"min_clearance,omitempty"`
}

// Outcome reports a finished assignment (robot -> coordinator, request),
// after its log is uploaded.
type Outcome struct {
	Robot      string `json:"robot"`
	Assignment string `json:"assignment"`
	EpisodeResult
	// Error says the robot could not run the episode (then Log is nil).
	Error    *errcode.Error `json:"error,omitempty"`
	Log      *LogRef        `json:"log,omitempty"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
}

// OutcomeReply answers Outcome.
type OutcomeReply struct {
	Error     *errcode.Error `json:"error,omitempty"`
	EpisodeID string         `json:"episode_id,omitempty"`
}

// Upload operations.
const (
	UploadStatus = "status"
	UploadChunk  = "chunk"
)

// Upload is one step of a log upload (robot -> coordinator, request): a
// status query (which chunks are in) or one chunk.
type Upload struct {
	Op         string `json:"op"`
	Robot      string `json:"robot"`
	Assignment string `json:"assignment"`
	Log        LogRef `json:"log"`
	// Index, Data and ChunkSHA256 are set for chunks.
	Index       int    `json:"index,omitempty"`
	Data        []byte `json:"data,omitempty"`
	ChunkSHA256 string `json:"chunk_sha256,omitempty"`
}

// UploadReply answers Upload with the chunks the coordinator holds.
type UploadReply struct {
	Error *errcode.Error `json:"error,omitempty"`
	Have  []int          `json:"have"`
}

// SHA256 is the lowercase hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// decode parses a message from robot (the id in its subject) with size
// limit max, then validates it.
func decode[T any](data []byte, max int, v *T) error {
	if len(data) > max {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrBadMessage, len(data), max)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return nil
}

func sameRobot(subject, body string) error {
	if err := ValidRobotID(body); err != nil {
		return err
	}
	if subject != body {
		return badf("robot %q reports on robot %q's subject", body, subject)
	}
	return nil
}

// ParseRegister parses and checks a Register from robot id.
func ParseRegister(id string, data []byte) (Register, error) {
	var m Register
	if err := decode(data, MaxMessage, &m); err != nil {
		return m, err
	}
	if err := sameRobot(id, m.Robot); err != nil {
		return m, err
	}
	switch {
	case m.Version != ProtocolVersion:
		return m, badf("protocol version %d (this coordinator speaks %d)", m.Version, ProtocolVersion)
	case m.Embodiment == "":
		return m, badf("no embodiment")
	case len(m.Scenes) == 0 || len(m.Scenes) > 100:
		return m, badf("%d scenes", len(m.Scenes))
	case len(m.Cameras) > 16 || len(m.PolicyBackends) > 100:
		return m, badf("too many cameras or backends")
	case m.Actions.Dim <= 0 || m.Actions.Dim > 1024:
		return m, badf("action dim %d", m.Actions.Dim)
	}
	for _, c := range m.Cameras {
		if c.Name == "" || c.Height <= 0 || c.Width <= 0 || c.Channels <= 0 || c.Height > 1<<14 || c.Width > 1<<14 || c.Channels > 4 {
			return m, badf("camera %+v", c)
		}
	}
	return m, nil
}

// ParseHeartbeat parses and checks a Heartbeat from robot id.
func ParseHeartbeat(id string, data []byte) (Heartbeat, error) {
	var m Heartbeat
	if err := decode(data, MaxMessage, &m); err != nil {
		return m, err
	}
	if err := sameRobot(id, m.Robot); err != nil {
		return m, err
	}
	switch m.State {
	case StateIdle:
	case StateBusy:
		if m.Assignment != "" {
			if err := validUUID("assignment", m.Assignment); err != nil {
				return m, err
			}
		}
	default:
		return m, badf("state %q (idle, busy)", m.State)
	}
	return m, nil
}

// ParseProgress parses and checks a Progress from robot id.
func ParseProgress(id string, data []byte) (Progress, error) {
	var m Progress
	if err := decode(data, MaxMessage, &m); err != nil {
		return m, err
	}
	if err := sameRobot(id, m.Robot); err != nil {
		return m, err
	}
	if m.Step < 0 || m.MaxSteps < 0 {
		return m, badf("step %d of %d", m.Step, m.MaxSteps)
	}
	return m, validUUID("assignment", m.Assignment)
}

func (l LogRef) validate() error {
	switch {
	case l.Size <= 0 || l.Size > MaxLog:
		return badf("log size %d (1..%d)", l.Size, MaxLog)
	case l.Chunks <= 0 || int64(l.Chunks) > l.Size || l.Chunks > MaxLog/1024:
		return badf("%d chunks for %d bytes", l.Chunks, l.Size)
	case !hexSumRE.MatchString(l.SHA256):
		return badf("sha256 %q", l.SHA256)
	}
	return nil
}

// ParseOutcome parses and checks an Outcome from robot id.
func ParseOutcome(id string, data []byte) (Outcome, error) {
	var m Outcome
	if err := decode(data, MaxMessage, &m); err != nil {
		return m, err
	}
	if err := sameRobot(id, m.Robot); err != nil {
		return m, err
	}
	if err := validUUID("assignment", m.Assignment); err != nil {
		return m, err
	}
	if m.Error != nil {
		if m.Error.Code == "" {
			return m, badf("error without a code")
		}
		return m, nil
	}
	if m.Log == nil {
		return m, badf("outcome without a log or an error")
	}
	if err := m.Log.validate(); err != nil {
		return m, err
	}
	if m.Steps <= 0 || m.StepsToSuccess < -1 || m.StepsToSuccess > m.Steps {
		return m, badf("steps %d, steps to success %d", m.Steps, m.StepsToSuccess)
	}
	return m, nil
}

// ParseUpload parses and checks an Upload from robot id (chunk data
// included, so the limit is MaxChunk's base64 plus room for the rest).
func ParseUpload(id string, data []byte) (Upload, error) {
	var m Upload
	if err := decode(data, MaxChunk*4/3+MaxMessage, &m); err != nil {
		return m, err
	}
	if err := sameRobot(id, m.Robot); err != nil {
		return m, err
	}
	if err := validUUID("assignment", m.Assignment); err != nil {
		return m, err
	}
	if err := m.Log.validate(); err != nil {
		return m, err
	}
	switch m.Op {
	case UploadStatus:
		if len(m.Data) != 0 {
			return m, badf("status with data")
		}
	case UploadChunk:
		switch {
		case m.Index < 0 || m.Index >= m.Log.Chunks:
			return m, badf("chunk %d of %d", m.Index, m.Log.Chunks)
		case len(m.Data) == 0 || len(m.Data) > MaxChunk || int64(len(m.Data)) > m.Log.Size:
			return m, badf("chunk of %d bytes", len(m.Data))
		case SHA256(m.Data) != m.ChunkSHA256:
			return m, badf("chunk %d fails its checksum", m.Index)
		}
	default:
		return m, badf("upload op %q (status, chunk)", m.Op)
	}
	return m, nil
}

// ParseAssignment parses and checks an Assignment (robot side).
func ParseAssignment(data []byte) (Assignment, error) {
	var m Assignment
	if err := decode(data, MaxMessage, &m); err != nil {
		return m, err
	}
	if err := validUUID("assignment", m.ID); err != nil {
		return m, err
	}
	if err := m.Policy.validate(); err != nil {
		return m, err
	}
	switch {
	case m.Scenario == "":
		return m, badf("no scenario")
	case m.MaxSteps < 0 || m.ChunkSize < 0 || m.ChunkSize > MaxChunk:
		return m, badf("max steps %d, chunk size %d", m.MaxSteps, m.ChunkSize)
	}
	return m, nil
}

// ReplyError is the coded wire form of err (nil for nil).
func ReplyError(err error) *errcode.Error {
	if err == nil {
		return nil
	}
	e := errcode.FromError(err)
	return &e
}

// ErrOf turns a reply's coded error into an error (nil when absent):
// errors.Is matches the code and the sentinels registered for it.
func ErrOf(e *errcode.Error) error {
	if e == nil {
		return nil
	}
	return e.Err()
}
