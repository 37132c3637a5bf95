package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/waihu/waihu/dialog"
)

// scriptInfo is one script in the list.
type scriptInfo struct {
	// Name is the file's name without .yaml; it is the script's id in the API.
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	ModifiedAt time.Time `json:"modified_at"`
	// Valid is false when the file no longer loads; Errors say why.
	Valid  bool          `json:"valid"`
	Errors []scriptIssue `json:"errors,omitempty"`
	// Title is the script's own name: field; Language its language.
	Title    string `json:"title,omitempty"`
	Language string `json:"language,omitempty"`
	Nodes    int    `json:"nodes,omitempty"`
}

// scriptBody is one script with its source.
type scriptBody struct {
	scriptInfo
	// Source is the YAML as stored.
	Source string `json:"source"`
}

// scriptCheck is the validation of a script's source.
type scriptCheck struct {
	Valid    bool          `json:"valid"`
	Errors   []scriptIssue `json:"errors,omitempty"`
	Title    string        `json:"title,omitempty"`
	Language string        `json:"language,omitempty"`
	Nodes    int           `json:"nodes,omitempty"`
}

// scriptIssue is one problem found by dialog's loader, at a line.
type scriptIssue struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// scriptName allows names that are plain file names on every system, so a
// name can never walk out of ScriptsDir.
var scriptName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// scriptPath is the file of script name.
func (s *Server) scriptPath(name, field string) (string, error) {
	if s.cfg.ScriptsDir == "" {
		return "", unavailable("the scripts directory")
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".yml")
	if !scriptName.MatchString(name) {
		return "", badInput(field, "%s must be 1 to 64 letters, digits, - or _ (starting with a letter or digit), not %q", field, name)
	}
	return filepath.Join(s.cfg.ScriptsDir, name+".yaml"), nil
}

// checkScript validates src with dialog's loader, as a call would load it.
func checkScript(name string, src []byte) scriptCheck {
	sc, err := dialog.Parse(name+".yaml", src)
	if err != nil {
		c := scriptCheck{}
		var list []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		} else {
			list = []error{err}
		}
		for _, e := range list {
			var se *dialog.ScriptError
			if errors.As(e, &se) {
				c.Errors = append(c.Errors, scriptIssue{Line: se.Line, Message: se.Msg})
			} else {
				c.Errors = append(c.Errors, scriptIssue{Message: e.Error()})
			}
		}
		return c
	}
	return scriptCheck{Valid: true, Title: sc.Name, Language: sc.Language, Nodes: len(sc.Nodes)}
}

func infoOf(name string, fi fs.FileInfo, c scriptCheck) scriptInfo {
	return scriptInfo{Name: name, Size: fi.Size(), ModifiedAt: fi.ModTime().UTC(), Valid: c.Valid, Errors: c.Errors,
		Title: c.Title, Language: c.Language, Nodes: c.Nodes}
}

func (s *Server) listScripts(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.ScriptsDir == "" {
		return unavailable("the scripts directory")
	}
	entries, err := os.ReadDir(s.cfg.ScriptsDir)
	if errors.Is(err, fs.ErrNotExist) {
		entries = nil
	} else if err != nil {
		return fmt.Errorf("list scripts in %s: %w", s.cfg.ScriptsDir, err)
	}
	out := listBody[scriptInfo]{Items: []scriptInfo{}}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() || !scriptName.MatchString(name) {
			continue
		}
		path := filepath.Join(s.cfg.ScriptsDir, e.Name())
		src, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read script %s: %w", path, err)
		}
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("stat script %s: %w", path, err)
		}
		out.Items = append(out.Items, infoOf(name, fi, checkScript(name, src)))
	}
	slices.SortFunc(out.Items, func(a, b scriptInfo) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getScript(w http.ResponseWriter, r *http.Request) error {
	path, err := s.scriptPath(r.PathValue("name"), "name")
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".yaml")
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return notFound("name", "no script named %q", name)
	}
	if err != nil {
		return fmt.Errorf("read script %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat script %s: %w", path, err)
	}
	writeJSON(w, http.StatusOK, scriptBody{scriptInfo: infoOf(name, fi, checkScript(name, src)), Source: string(src)})
	return nil
}

// readYAML reads a script body: raw YAML (application/yaml, text/yaml,
// application/x-yaml, text/plain or no type), bounded by MaxBodyBytes.
func (s *Server) readYAML(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	switch mt := mediaType(r); mt {
	case "", mediaYAML, "text/yaml", "application/x-yaml", "text/x-yaml", "text/plain":
	default:
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("Content-Type %s is not accepted: send the script as %s", mt, mediaYAML), Field: "Content-Type"}
	}
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(src))) == 0 {
		return nil, badInput("body", "the script is empty")
	}
	return src, nil
}

func (s *Server) validateScript(w http.ResponseWriter, r *http.Request) error {
	src, err := s.readYAML(w, r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, checkScript("body", src))
	return nil
}

func (s *Server) putScript(w http.ResponseWriter, r *http.Request) error {
	path, err := s.scriptPath(r.PathValue("name"), "name")
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".yaml")
	src, err := s.readYAML(w, r)
	if err != nil {
		return err
	}
	c := checkScript(name, src)
	if !c.Valid {
		msg := "the script does not load"
		if len(c.Errors) > 0 {
			msg = fmt.Sprintf("the script does not load: line %d: %s", c.Errors[0].Line, c.Errors[0].Message)
		}
		writeJSON(w, http.StatusUnprocessableEntity, struct {
			errorBody
			Errors []scriptIssue `json:"errors"`
		}{errorBody{Error: msg, Field: "body"}, c.Errors})
		return nil
	}
	if err := os.MkdirAll(s.cfg.ScriptsDir, 0o755); err != nil {
		return fmt.Errorf("create scripts directory %s: %w", s.cfg.ScriptsDir, err)
	}
	// Write then rename, so a call loading the script never reads half a file.
	tmp, err := os.CreateTemp(s.cfg.ScriptsDir, "."+name+"-*.tmp")
	if err != nil {
		return fmt.Errorf("store script %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(src); err != nil {
		tmp.Close()
		return fmt.Errorf("store script %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store script %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("store script %s: %w", name, err)
	}
	if err := s.auditReq(r, "script.write", "script:"+name, fmt.Sprintf("%d bytes, %d nodes", len(src), c.Nodes)); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat script %s: %w", path, err)
	}
	writeJSON(w, http.StatusOK, scriptBody{scriptInfo: infoOf(name, fi, c), Source: string(src)})
	return nil
}
