package clip

import "github.com/xmodal/xmodal/nn"

// SetPrecision chooses the arithmetic of the encoder blocks' matrix
// products, where nearly all the work is. The patch embedding and the
// projections stay in float32: they are cheap, and keeping them exact keeps
// bf16 embeddings within cosine 0.999 of float32 ones. nn.ErrNoBF16 means
// the CPU cannot do bf16; the model then stays in float32.
func (m *Model) SetPrecision(p nn.Precision) error {
	for _, e := range []*encoder{m.text.enc, m.vision.enc} {
		for _, l := range e.layers {
			for _, lin := range []*nn.Linear{l.qkv, l.out, l.fc1, l.fc2} {
				if err := lin.SetPrecision(p); err != nil {
					return err
				}
			}
		}
	}
	m.precision = p
	return nil
}

// Precision is the arithmetic the encoder blocks use.
func (m *Model) Precision() nn.Precision { return m.precision }
