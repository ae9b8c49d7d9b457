package clip

import "github.com/xmodal/xmodal/nn"

// SetPrecision chooses the arithmetic of the encoder blocks' matrix
// products, where nearly all the work is. The patch embedding and the
// projections stay in float32: they are cheap, and keeping them exact keeps
// bf16 and int8 embeddings within cosine 0.999 of float32 ones. Int8 runs
// every block's four products in int8 (per-channel weights, per-token
// activations): on OpenAI's ViT-B/32 that measured cosine ≥ 0.9993 for
// texts and ≥ 0.9995 for images, and keeping any one kind of product (qkv,
// out, fc1 or fc2) in bf16 gained at most 0.0003, not worth its memory
// traffic. A ResNet image tower runs its convolutions in the precision.
// nn.ErrNoBF16 and nn.ErrNoInt8 mean the CPU cannot do the
// precision; the model then keeps its previous one.
func (m *Model) SetPrecision(p nn.Precision) error {
	if err := m.text.enc.setPrecision(p); err != nil {
		return err
	}
	if err := m.vision.setPrecision(p); err != nil {
		return err
	}
	m.precision = p
	return nil
}

// Precision is the arithmetic the encoder blocks use.
func (m *Model) Precision() nn.Precision { return m.precision }

func (e *encoder) setPrecision(p nn.Precision) error {
	for _, l := range e.layers {
		for _, lin := range []*nn.Linear{l.qkv, l.out, l.fc1, l.fc2} {
			if err := lin.SetPrecision(p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v *visionTower) setPrecision(p nn.Precision) error { return v.enc.setPrecision(p) }
