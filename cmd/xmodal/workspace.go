package main

import (
	"fmt"
	"path/filepath"

	"github.com/xmodal/xmodal/model/builtin"
	"github.com/xmodal/xmodal/model/clip"
	"github.com/xmodal/xmodal/workspace"
)

// modelIdentity describes a loaded model as a workspace records it. The
// name is the model folder's absolute path, so that later commands can
// find the model without --model.
func modelIdentity(m *clip.Model) (workspace.Model, error) {
	id, err := m.ID()
	if err != nil {
		return workspace.Model{}, fmt.Errorf("hash model: %w", err)
	}
	name := m.Dir()
	if name != builtin.Name {
		if abs, err := filepath.Abs(name); err == nil {
			name = abs
		}
	}
	return workspace.Model{ID: id, Name: name, Dim: m.Dim(), NoEXIF: m.Preprocess.NoEXIF}, nil
}

// openWorkspaceModel opens a workspace for reading with its model: the one
// given, or the one the workspace was built with. Query images are
// preprocessed as the workspace's images were (EXIF orientation applied or
// not).
func openWorkspaceModel(dir string, mf *modelFlags) (*workspace.Workspace, *clip.Model, error) {
	ws, err := workspace.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	mf.noEXIF = ws.Manifest().Model.NoEXIF
	m, err := mf.load(ws.Manifest().Model.Name)
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	ident, err := modelIdentity(m)
	if err == nil {
		err = ws.CheckModel(ident)
	}
	if err != nil {
		m.Close()
		ws.Close()
		return nil, nil, err
	}
	return ws, m, nil
}
