package smartbot

import (
	"github.com/philippgille/chromem-go"
)

// NewOllamaEmbeddingFunc returns an EmbeddingFunc for an Ollama server, using
// chromem-go's client. baseURL is the API root, e.g.
// "http://localhost:11434/api" (empty means that default); model is an
// embedding model pulled on the server, e.g. "nomic-embed-text" or the
// multilingual "bge-m3". Vectors are normalized.
func NewOllamaEmbeddingFunc(model, baseURL string) chromem.EmbeddingFunc {
	return chromem.NewEmbeddingFuncOllama(model, baseURL)
}

// NewOpenAICompatEmbeddingFunc returns an EmbeddingFunc for any server that
// speaks the OpenAI embeddings API (POST {baseURL}/embeddings), using
// chromem-go's client: OpenAI itself ("https://api.openai.com/v1"), vLLM,
// llama.cpp's server, LiteLLM, LocalAI, or Ollama's "/v1" endpoint. apiKey
// may be empty for local servers.
func NewOpenAICompatEmbeddingFunc(baseURL, apiKey, model string) chromem.EmbeddingFunc {
	return chromem.NewEmbeddingFuncOpenAICompat(baseURL, apiKey, model, nil)
}
